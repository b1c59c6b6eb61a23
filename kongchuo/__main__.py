from kongchuo.cli import main

main()
