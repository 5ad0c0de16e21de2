def f(event):
    name = (event or {}).get("name", "world")
    return {"greeting": f"hello, {name}"}
